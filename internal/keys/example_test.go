package keys_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// The kid of a key is its RFC 7638 thumbprint; here the key of RFC 8037
// Appendix A.
func ExampleThumbprint() {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	fmt.Println(keys.Thumbprint(ed25519.PublicKey(x)))
	// Output: kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
}
