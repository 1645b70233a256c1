"""params.yaml: one configuration, a base and one overlay per scale, validated against the JSON schema and read through typed settings."""
