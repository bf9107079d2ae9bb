"""The public site on BASE_DOMAIN: what Kompas is, and the way into a portal."""
