package span

// ValidTenant reports whether s is a tenant name: 1–64 characters from
// [a-z0-9_-] (the rule of the span's tenant field).
func ValidTenant(s string) bool { return validName([]byte(s), 64, false) }
