package account

import "strings"

// DeviceOf names a browser and its system in a few readable words, such as
// "Firefox on Android", from a User-Agent header. It knows the common
// browsers only; anything else is "Unknown browser" or the tool's name.
func DeviceOf(ua string) string {
	browser, system := DeviceParts(ua)
	if browser == "" {
		return "Unknown device"
	}
	return browser + " on " + system
}

// DeviceParts are DeviceOf's browser and system, for pages that put them
// into a sentence of their language; both are empty without a User-Agent.
func DeviceParts(ua string) (browser, system string) {
	if strings.TrimSpace(ua) == "" {
		return "", ""
	}
	return browserOf(ua), systemOf(ua)
}

func browserOf(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"}, {"CriOS/", "Chrome"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Wget/", "Wget"},
		{"Go-http-client/", "Go client"}, {"python-requests/", "Python requests"},
	} {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	return "Unknown browser"
}

func systemOf(ua string) string {
	for _, s := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
		{"FreeBSD", "FreeBSD"}, {"OpenBSD", "OpenBSD"},
	} {
		if strings.Contains(ua, s.token) {
			return s.name
		}
	}
	return "unknown system"
}
