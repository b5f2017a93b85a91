"""Speaking to outside systems over HTTP: the mail/notification and payment gateway."""
