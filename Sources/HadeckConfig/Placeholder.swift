public enum HadeckConfigPlaceholder {}
