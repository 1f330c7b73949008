//! ISO/IEC 19794-2:2005 finger minutiae records: export and import of templates.
