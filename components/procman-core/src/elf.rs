//! ELF load plans: placeholder.
