package account

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"allmende/models/internal/kit"
)

// Validation lives here, apart from storage, so that the page and the API
// give the same answers for the same input.

const (
	minPasswordLen = 10
	maxPasswordLen = 256 // argon2 hashes whatever it gets; bound the work
)

// commonPasswords are rejected outright; a full breached-password list would
// be better, but this stops the classics.
var commonPasswords = map[string]bool{
	"password123": true, "1234567890": true, "qwertyuiop": true, "passwort123": true,
	"password1234": true, "iloveyou123": true, "0123456789": true, "letmein1234": true,
}

// NormalizeEmail lowercases and trims an email address for storage and lookup.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validateEmail(email string) string {
	if email == "" {
		return "Enter your email address."
	}
	if len(email) > 254 {
		return "This email address is too long."
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return "Enter a valid email address, like name@example.org."
	}
	return ""
}

func validateName(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "Enter your name."
	case n > 200:
		return "This name is too long (at most 200 characters)."
	case kit.HasControl(name, false):
		return kit.ControlCharsMessage
	}
	return ""
}

func validatePassword(password, email string) string {
	n := utf8.RuneCountInString(password)
	switch {
	case n < minPasswordLen:
		return "Use at least 10 characters."
	case len(password) > maxPasswordLen:
		return "Use at most 256 characters."
	case commonPasswords[strings.ToLower(password)]:
		return "This password is too common; choose another."
	case email != "" && strings.EqualFold(password, email):
		return "Do not use your email address as password."
	case strings.Count(password, string([]rune(password)[0])) == n:
		return "Do not repeat a single character."
	}
	return ""
}
