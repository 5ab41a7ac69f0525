//! Executable specification of the object model (issue 3 fills this in).
