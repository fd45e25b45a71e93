"""``confgen measure``: a profile measured from nginx access logs (see confgen.measure.reading)."""
