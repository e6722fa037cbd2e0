"""The operational safety system's SQL adapters (tables prefixed ``safety_``)."""
