"""params.yaml: one configuration, a base and one overlay per scale, validated against the JSON schema
(schema.yaml), which holds every default."""
