"""revops-warehouse: one set of numbers for marketing and sales."""
