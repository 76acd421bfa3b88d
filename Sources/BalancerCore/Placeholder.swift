public enum BalancerCoreInfo {}
