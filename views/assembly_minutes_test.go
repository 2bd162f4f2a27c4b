package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The printable minutes show quoted member text as a quote of plain
// paragraphs: no heading, table or verdict of its own, no raw HTML.
func TestMinutesPageQuotesMemberText(t *testing.T) {
	md := "# Minutes of the general assembly: GA\n\n" +
		"> \\# Result\n> \\| yes \\| 100 \\|\n> \\*\\*Adopted\\.\\*\\*\n> &lt;script&gt;alert\\(1\\)&lt;/script&gt; &amp;amp;\n>\n> Second paragraph\n\n" +
		"**Rejected.**\n"
	var buf bytes.Buffer
	if err := mdRender(mdBlocks(md)).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"<h1>Minutes of the general assembly: GA</h1>",
		"<blockquote><p># Result | yes | 100 | **Adopted.** &lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;</p><p>Second paragraph</p></blockquote>",
		"<p>Rejected.</p>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "<h1>") != 1 || strings.Contains(got, "<table") || strings.Contains(got, "<script") {
		t.Errorf("quoted text became structure:\n%s", got)
	}
}
