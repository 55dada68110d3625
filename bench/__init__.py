"""``make bench``: what a run costs and how fast it goes, measured on the local stack."""
