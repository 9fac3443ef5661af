"""Reading: sources and sources files, file formats, fetching feeds and pages, and the read stage."""
