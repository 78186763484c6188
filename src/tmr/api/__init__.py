"""HTTP interface: one router module per resource; schemas named after the OpenAPI components."""
