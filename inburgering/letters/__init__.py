"""Letters, e-mails and notices: Jinja2 templates, Dutch first, English beside it."""
