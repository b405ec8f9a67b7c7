"""Merchandising rules: the schema (model), the control store with its audit log (store), matching
(ruleset) and what matched rules do to a request (effects). See docs/rules.md."""
