"""Operations: the janitor and the admin commands."""
