package handlers

import "testing"

// Known ways to smuggle another site past a "starts with /" check. Values
// are as the handler sees them, after form or query decoding.
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"", "/"},
		{"/", "/"},
		{"/vms", "/vms"},
		{"/vms?x=1", "/vms?x=1"},
		{"/board/members/m1#ledger", "/board/members/m1#ledger"},
		{"/login?next=%2Faccount", "/login?next=%2Faccount"},
		{"/%2F%2Fevil", "/%2F%2Fevil"}, // encoded slashes stay one path of this site
		{"/\t/evil.example", "/"},      // browsers drop the tab: //evil.example
		{"/\n/evil.example", "/"},
		{"/\r\n/evil", "/"},
		{"/\x00/evil", "/"},
		{"/\x7f/evil", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil", "/"},
		{"\\/evil", "/"},
		{"/a\\b", "/"},
		{"http://evil", "/"},
		{"https:evil", "/"},
		{"https:/evil", "/"},
		{"HTTP://evil", "/"},
		{"javascript:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{" /evil", "/"},
		{"\t/evil", "/"},
		{"/ /evil", "/"},
		{"evil.example", "/"},
		{"vms", "/"},
		{"?next=//evil", "/"},
		{"/%09/evil.example", "/"}, // a tab once decoded
		{"/%0d%0aSet-Cookie:x", "/"},
		{"/%5C%5Cevil", "/"},
		{"/%zz", "/"},
		{"/\u00a0/evil", "/"},
		{"/\u2028/evil", "/"},
		{"/\uff0f/evil", "/"},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}
