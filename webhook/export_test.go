package webhook

// WatchVaultCA lets the external tests drive the reload loop with a short interval.
var WatchVaultCA = watchVaultCA
