"""Phone number parsing with phonenumbers (Google's libphonenumber metadata)."""
