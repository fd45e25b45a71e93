"""nginx configs as data: parsing (crossplane's lexer, our tree), the model of inheritance and
defaults, and the version table. Nothing here knows about gunicorn, profiles or rules."""
