public enum VRRPCorePlaceholder {}
