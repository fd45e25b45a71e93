from confgen.cli import run

run()
