public enum ClusterCorePlaceholder {}
