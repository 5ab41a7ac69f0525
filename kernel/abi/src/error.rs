//! Placeholder: filled in by the object-model work (issue 3).
