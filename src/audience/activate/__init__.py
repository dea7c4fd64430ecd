"""Getting segments to where they are used: files an email platform imports."""
