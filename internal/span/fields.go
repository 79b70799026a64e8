package span

// fieldID numbers the top-level fields of the wire format in JCS order of
// their (v8) names, so iterating the ids writes members in canonical order.
type fieldID uint8

const (
	fCode fieldID = iota
	fConfirmedBy
	fCurrHash
	fData
	fDescription
	fDid
	fDurationMS
	fEntityType
	fError
	fID
	fInput
	fLanguage
	fLogIndex // server
	fMetadata
	fName
	fOutput
	fOwnerID
	fParentID
	fPrevHash // server
	fPublicKey
	fReceivedAt // server
	fRelatedTo
	fRuntime
	fSeq
	fSignature
	fStatus
	fTenant
	fThis
	fTraceID
	fVisibility
	fWhen
	fWho
	numFields
)

// rule says how a field's value is checked.
type rule uint8

const (
	ruleString      rule = iota // any string, at most max bytes when max > 0, non-empty when nonEmpty
	ruleID                      // 1–128 chars [A-Za-z0-9._:~-]
	ruleTenant                  // [a-z0-9_-]{1,64}
	ruleEntityType              // [a-z0-9_.:-]{1,64}
	ruleUint                    // integer 0..2^53
	ruleTime                    // RFC 3339 timestamp with offset
	ruleStringArray             // array of strings
	ruleObject                  // object
	ruleVisibility              // private | tenant | public
	ruleHex32                   // 64 lowercase hex digits
	ruleHex64                   // 128 lowercase hex digits
)

// fieldSpec describes one top-level field.
type fieldSpec struct {
	name     string
	rule     rule
	max      int  // ruleString: maximum length in bytes (0: only the span limit)
	nonEmpty bool // ruleString: "" is invalid
	server   bool // assigned by the server, never accepted from clients
}

// fields is read-only: the wire format's fields, indexed by fieldID.
var fields = [numFields]fieldSpec{
	fCode:        {name: "code", rule: ruleString},
	fConfirmedBy: {name: "confirmed_by", rule: ruleStringArray},
	fCurrHash:    {name: "curr_hash", rule: ruleHex32},
	fData:        {name: "data", rule: ruleObject},
	fDescription: {name: "description", rule: ruleString},
	fDid:         {name: "did", rule: ruleString, max: 1024},
	fDurationMS:  {name: "duration_ms", rule: ruleUint},
	fEntityType:  {name: "entity_type", rule: ruleEntityType},
	fError:       {name: "error", rule: ruleObject},
	fID:          {name: "id", rule: ruleID},
	fInput:       {name: "input", rule: ruleObject},
	fLanguage:    {name: "language", rule: ruleString},
	fLogIndex:    {name: "log_index", rule: ruleUint, server: true},
	fMetadata:    {name: "metadata", rule: ruleObject},
	fName:        {name: "name", rule: ruleString},
	fOutput:      {name: "output", rule: ruleObject},
	fOwnerID:     {name: "owner_id", rule: ruleString, max: 128},
	fParentID:    {name: "parent_id", rule: ruleString, max: 256},
	fPrevHash:    {name: "prev_hash", rule: ruleHex32, server: true},
	fPublicKey:   {name: "public_key", rule: ruleHex32},
	fReceivedAt:  {name: "received_at", rule: ruleTime, server: true},
	fRelatedTo:   {name: "related_to", rule: ruleStringArray},
	fRuntime:     {name: "runtime", rule: ruleString},
	fSeq:         {name: "seq", rule: ruleUint},
	fSignature:   {name: "signature", rule: ruleHex64},
	fStatus:      {name: "status", rule: ruleString, max: 64},
	fTenant:      {name: "tenant", rule: ruleTenant},
	fThis:        {name: "this", rule: ruleString, max: 1024, nonEmpty: true},
	fTraceID:     {name: "trace_id", rule: ruleString, max: 256},
	fVisibility:  {name: "visibility", rule: ruleVisibility},
	fWhen:        {name: "when", rule: ruleTime},
	fWho:         {name: "who", rule: ruleString, max: 1024, nonEmpty: true},
}

// appendMember appends `"name":value` (field names need no escaping).
func appendMember(dst []byte, f fieldID, value []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, fields[f].name...)
	dst = append(dst, '"', ':')
	return append(dst, value...)
}

// Blueprint4 aliases, accepted on input and renamed to their v8 field.
const (
	aliasTenant = "tenant_id"
	aliasWhen   = "at"
)

// lookupField maps a decoded top-level key to its field. alias reports a
// Blueprint4 alias.
func lookupField(key []byte) (f fieldID, alias, ok bool) {
	switch string(key) {
	case "code":
		return fCode, false, true
	case "confirmed_by":
		return fConfirmedBy, false, true
	case "curr_hash":
		return fCurrHash, false, true
	case "data":
		return fData, false, true
	case "description":
		return fDescription, false, true
	case "did":
		return fDid, false, true
	case "duration_ms":
		return fDurationMS, false, true
	case "entity_type":
		return fEntityType, false, true
	case "error":
		return fError, false, true
	case "id":
		return fID, false, true
	case "input":
		return fInput, false, true
	case "language":
		return fLanguage, false, true
	case "log_index":
		return fLogIndex, false, true
	case "metadata":
		return fMetadata, false, true
	case "name":
		return fName, false, true
	case "output":
		return fOutput, false, true
	case "owner_id":
		return fOwnerID, false, true
	case "parent_id":
		return fParentID, false, true
	case "prev_hash":
		return fPrevHash, false, true
	case "public_key":
		return fPublicKey, false, true
	case "received_at":
		return fReceivedAt, false, true
	case "related_to":
		return fRelatedTo, false, true
	case "runtime":
		return fRuntime, false, true
	case "seq":
		return fSeq, false, true
	case "signature":
		return fSignature, false, true
	case "status":
		return fStatus, false, true
	case "tenant":
		return fTenant, false, true
	case "this":
		return fThis, false, true
	case "trace_id":
		return fTraceID, false, true
	case "visibility":
		return fVisibility, false, true
	case "when":
		return fWhen, false, true
	case "who":
		return fWho, false, true
	case aliasTenant:
		return fTenant, true, true
	case aliasWhen:
		return fWhen, true, true
	}
	return 0, false, false
}

// lookupFieldString is lookupField for callers holding a string.
func lookupFieldString(name string) (fieldID, bool) {
	f, alias, ok := lookupField([]byte(name))
	return f, ok && !alias
}
