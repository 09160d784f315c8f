"""What delegates see: the registration form, the confirmation, the privacy notice."""
