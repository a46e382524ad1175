"""The extracted subnet: loading it, exporting it, running an export."""
