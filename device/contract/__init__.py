"""The outside contract: the catalogue, the MQTT topics, the payloads' JSON Schemas and the decoded inputs."""
