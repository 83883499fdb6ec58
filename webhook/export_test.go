package webhook

// WatchVaultCA lets the external tests drive the reload loop with a short interval.
var WatchVaultCA = watchVaultCA

// EncodingJSONPatch is the patch as encoding/json writes it, for the golden cases.
var EncodingJSONPatch = encodingJSON

// WithGrownStacks exposes withGrownStacks to the tests.
var WithGrownStacks = withGrownStacks
