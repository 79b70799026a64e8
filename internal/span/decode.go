package span

import (
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Default limits (ARCHITECTURE.md §2).
const (
	DefaultMaxSpanBytes = 64 << 10

	// maxEntryDepth bounds nesting when ParseEntry reads stored lines and
	// caps Limits.MaxDepth, so that every span Decode accepts can be read
	// back whatever limits it was accepted under.
	maxEntryDepth = 512
)

func (l Limits) withDefaults() Limits {
	if l.MaxSpanBytes <= 0 {
		l.MaxSpanBytes = DefaultMaxSpanBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	l.MaxDepth = min(l.MaxDepth, maxEntryDepth)
	return l
}

// Decode parses and validates a span a client sent and prepares its stored
// form: the canonical members (aliases renamed, a server-assigned id added
// when absent, curr_hash added), its curr_hash, and, when signed, its
// verified signature. Errors are *Error.
func Decode(data []byte, opts DecodeOptions) (*Span, error) {
	s := new(Span)
	d := decoder{mode: modeDecode, limits: opts.Limits.withDefaults(), newID: opts.NewID, s: s}
	if err := d.run(data); err != nil {
		return nil, err
	}
	return s, nil
}

// mode says what kind of document a decoder reads.
type mode uint8

const (
	modeDecode mode = iota // a client's span (Decode)
	modeSign               // a span to be signed (Sign): curr_hash, signature, public_key are replaced
	modeEntry              // a stored entry line (ParseEntry): server fields required, aliases refused
)

// slot records where a top-level member's value is.
type slot struct {
	off, end int32 // canonical value bytes, in decoder.buf
	pos      int32 // input offset of the value
	present  bool
	alias    bool // sent under its Blueprint4 alias
}

// decoder turns one span document into a Span. It lives for one call.
type decoder struct {
	p      parser
	mode   mode
	limits Limits
	newID  func() string
	s      *Span

	// buf holds the canonical values in document order, then the hashed
	// object, then the canonical span.
	buf   []byte
	slots [numFields]slot

	entitySpan bool // entity_type is absent or "span"
	sentHash   Hash // curr_hash as sent
	sig        [ed25519.SignatureSize]byte
	pub        [ed25519.PublicKeySize]byte
	hash       Hash // curr_hash as computed

	// Server fields (modeEntry).
	logIndex   uint64
	prevHash   Hash
	receivedAt time.Time
}

// run parses and validates data and fills d.s. In modeSign it stops
// before signing (see Sign).
func (d *decoder) run(data []byte) error {
	if err := d.parse(data); err != nil {
		return err
	}
	if err := d.validate(); err != nil {
		return err
	}
	if d.mode == modeSign {
		return nil
	}
	return d.finish()
}

// parse reads the document into d.slots, checking each member as it goes.
func (d *decoder) parse(data []byte) error {
	depth := maxEntryDepth
	if d.mode != modeEntry {
		if len(data) > d.limits.MaxSpanBytes {
			return newError(CodeTooLarge, "", d.limits.MaxSpanBytes,
				"span is "+strconv.Itoa(len(data))+" bytes; the limit is "+strconv.Itoa(d.limits.MaxSpanBytes))
		}
		depth = d.limits.MaxDepth
	}
	d.p.init(data, depth)
	// Room for the values plus the larger of the hashed object and the
	// canonical span, which reuse the same space one after the other (and,
	// for an entry, its re-encoding).
	size := 2*len(data) + 384
	if d.mode == modeEntry {
		size += len(data)
	}
	d.buf = make([]byte, 0, size)
	p := &d.p
	p.skipWS()
	if p.pos >= len(data) || data[p.pos] != '{' {
		start := p.pos
		_, k, err := p.value(d.buf, 0)
		if err == nil {
			err = p.end()
		}
		if err != nil {
			return err
		}
		return newError(CodeInvalidField, "", start, "a span must be a JSON object, got "+k.String())
	}
	return p.members(d.member)
}

// member reads one top-level member whose decoded key is key.
func (d *decoder) member(key []byte, keyPos int) error {
	p := &d.p
	f, alias, ok := lookupField(key)
	if !ok {
		return p.errAt(CodeUnknownField, keyPos, "unknown field "+quote(key))
	}
	spec := &fields[f]
	if spec.server && d.mode != modeEntry {
		return p.errAt(CodeServerField, keyPos, spec.name+" is assigned by the server and must not be sent")
	}
	if alias && d.mode == modeEntry {
		return p.errAt(CodeNotCanonical, keyPos, string(key)+": stored entries use the field name "+spec.name)
	}
	sl := &d.slots[f]
	if sl.present {
		detail := "duplicate key " + quote(key)
		if alias || sl.alias {
			detail = string(key) + ": " + spec.name + " is already set (" + aliasTenant + "/" + aliasWhen + " are aliases of tenant/when)"
		}
		return p.errAt(CodeDuplicateKey, keyPos, detail)
	}
	p.skipWS()
	pos := p.pos
	off := len(d.buf)
	var k kind
	var err error
	if spec.rule == ruleStringArray && pos < len(p.data) && p.data[pos] == '[' {
		d.buf, err = p.array(d.buf, 2, true)
		k = kindArray
	} else {
		d.buf, k, err = p.value(d.buf, 1)
	}
	if err != nil {
		return err
	}
	*sl = slot{off: int32(off), end: int32(len(d.buf)), pos: int32(pos), present: true, alias: alias}
	return d.check(f, k, pos, key, d.buf[off:])
}

// check validates the value just read for field f (sent under key).
func (d *decoder) check(f fieldID, k kind, pos int, key, value []byte) error {
	if d.mode == modeSign && (f == fCurrHash || f == fSignature || f == fPublicKey) {
		return nil // whatever was there is replaced by Sign
	}
	p := &d.p
	spec := &fields[f]
	invalid := func(detail string) error {
		return p.errAt(CodeInvalidField, pos, string(key)+": "+detail)
	}
	wrongType := func(want string) error {
		return invalid("must be " + want + ", got " + k.String())
	}
	switch spec.rule {
	case ruleObject:
		if k != kindObject {
			return wrongType("an object")
		}
		return nil
	case ruleStringArray:
		if k != kindArray {
			return wrongType("an array of strings")
		}
		return nil
	case ruleUint:
		if k != kindNumber {
			return wrongType("an integer")
		}
		v := p.lastNum
		if v < 0 || v > maxSafeInteger || v != float64(uint64(v)) {
			return invalid(string(value) + " is not an integer from 0 to 9007199254740992")
		}
		switch f {
		case fSeq:
			d.s.Seq = uint64(v)
		case fLogIndex:
			d.logIndex = uint64(v)
		}
		return nil
	}
	if k != kindString {
		return wrongType("a string")
	}
	s := p.lastStr
	switch spec.rule {
	case ruleString:
		if spec.nonEmpty && len(s) == 0 {
			return invalid("must not be empty")
		}
		if spec.max > 0 && len(s) > spec.max {
			return invalid("is " + strconv.Itoa(len(s)) + " bytes; at most " + strconv.Itoa(spec.max) + " are allowed")
		}
	case ruleID:
		if !validID(s) {
			return invalid(quote(s) + " must be 1–128 characters from [A-Za-z0-9._:~-]")
		}
	case ruleTenant:
		if !validName(s, 64, false) {
			return invalid(quote(s) + " must be 1–64 characters from [a-z0-9_-]")
		}
	case ruleEntityType:
		if !validName(s, 64, true) {
			return invalid(quote(s) + " must be 1–64 characters from [a-z0-9_.:-]")
		}
		d.entitySpan = string(s) == DefaultEntityType
	case ruleTime:
		t, ok := ParseRFC3339(s)
		if !ok {
			return invalid(quote(s) + " is not an RFC 3339 timestamp with offset")
		}
		if f == fWhen {
			d.s.When = t
		} else {
			d.receivedAt = t
		}
	case ruleVisibility:
		switch string(s) {
		case "private", "tenant", "public":
		default:
			return invalid(quote(s) + " must be one of private, tenant, public")
		}
	case ruleHex32, ruleHex64:
		var dst []byte
		switch f {
		case fCurrHash:
			dst = d.sentHash[:]
		case fSignature:
			dst = d.sig[:]
		case fPublicKey:
			dst = d.pub[:]
		case fPrevHash:
			dst = d.prevHash[:]
		}
		if !decodeLowerHex(dst, s) {
			return invalid(quote(s) + " is not " + strconv.Itoa(2*len(dst)) + " lowercase hex digits")
		}
	}
	return nil
}

// validID reports whether s is 1–128 characters from [A-Za-z0-9._:~-].
func validID(s []byte) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// validName reports whether s is 1–max characters from [a-z0-9_-], plus
// '.' and ':' when dotColon.
func validName(s []byte, max int, dotColon bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		case dotColon && (c == '.' || c == ':'):
		default:
			return false
		}
	}
	return true
}

// name is how field f was sent (its alias, if so).
func (d *decoder) name(f fieldID) string {
	if d.slots[f].alias {
		switch f {
		case fTenant:
			return aliasTenant
		case fWhen:
			return aliasWhen
		}
	}
	return fields[f].name
}

// validate checks the rules that span members: required fields, the
// signature/public_key pair, what a signed span may not do. It assigns the
// id of a span without one (not in modeEntry).
func (d *decoder) validate() error {
	sl := &d.slots
	missing := func(f fieldID, why string) error {
		return newError(CodeMissingField, fieldPointer(fields[f].name), -1, fields[f].name+": required field is missing"+why)
	}
	for _, f := range [...]fieldID{fTenant, fWho, fThis, fWhen} {
		if !sl[f].present {
			return missing(f, "")
		}
	}
	if !sl[fEntityType].present || d.entitySpan {
		if !sl[fDid].present {
			return missing(fDid, " (did is required for entity_type span)")
		}
		if sl[fDid].end-sl[fDid].off == 2 { // ""
			return newError(CodeInvalidField, fieldPointer(fields[fDid].name), int(sl[fDid].pos), "did: must not be empty for entity_type span")
		}
	}
	if d.mode == modeEntry {
		for _, f := range [...]fieldID{fID, fCurrHash, fLogIndex, fPrevHash, fReceivedAt} {
			if !sl[f].present {
				return missing(f, " (stored entries always carry it)")
			}
		}
	}
	if d.mode != modeSign {
		if sl[fSignature].present != sl[fPublicKey].present {
			have, lack := fSignature, fPublicKey
			if sl[fPublicKey].present {
				have, lack = fPublicKey, fSignature
			}
			return newError(CodeInvalidField, fieldPointer(fields[lack].name), int(sl[have].pos),
				fields[lack].name+": required when "+fields[have].name+" is present")
		}
		if sl[fSignature].present {
			if !sl[fID].present {
				return newError(CodeInvalidField, fieldPointer(fields[fID].name), -1,
					"id: a signed span must carry its own id; a server-assigned id would change the signed content")
			}
			for _, f := range [...]fieldID{fTenant, fWhen} {
				if sl[f].alias {
					a := d.name(f)
					return newError(CodeInvalidField, fieldPointer(a), int(sl[f].pos),
						a+": a signed span must use the field name "+fields[f].name+"; renaming the alias would change the signed content")
				}
			}
		}
	}
	if !sl[fID].present {
		if d.newID == nil {
			return newError(CodeMissingField, fieldPointer(fields[fID].name), -1, "id: required field is missing (no id generator configured)")
		}
		id := d.newID()
		if !validID([]byte(id)) {
			return newError(CodeInvalidField, fieldPointer(fields[fID].name), -1, "id: server-assigned id "+quote([]byte(id))+" is invalid")
		}
		d.setString(fID, id)
	}
	return nil
}

// setString sets field f to a string needing no escapes.
func (d *decoder) setString(f fieldID, v string) {
	off := len(d.buf)
	d.buf = append(d.buf, '"')
	d.buf = append(d.buf, v...)
	d.buf = append(d.buf, '"')
	d.slots[f] = slot{off: int32(off), end: int32(len(d.buf)), pos: -1, present: true}
}

// computeHash hashes the JCS object of the stored members other than
// curr_hash and signature (server fields are never among them).
func (d *decoder) computeHash() {
	off := len(d.buf)
	d.buf = append(d.buf, '{')
	for f := range numFields {
		sl := &d.slots[f]
		if !sl.present || f == fCurrHash || f == fSignature || fields[f].server {
			continue
		}
		if len(d.buf) > off+1 {
			d.buf = append(d.buf, ',')
		}
		d.buf = appendMember(d.buf, f, d.buf[sl.off:sl.end])
	}
	d.buf = append(d.buf, '}')
	d.hash = contentHash(d.buf[off:])
	d.buf = d.buf[:off]
}

// verify checks curr_hash (when sent) and the signature (when present).
func (d *decoder) verify() error {
	if sl := d.slots[fCurrHash]; sl.present && d.sentHash != d.hash {
		return newError(CodeHashMismatch, fieldPointer(fields[fCurrHash].name), int(sl.pos),
			"curr_hash: sent "+d.sentHash.String()+" but the content hashes to "+d.hash.String())
	}
	if sl := d.slots[fSignature]; sl.present && !verifyDigest(d.pub[:], d.hash, d.sig[:]) {
		return newError(CodeBadSignature, fieldPointer(fields[fSignature].name), int(sl.pos),
			"signature: does not verify with public_key "+hex.EncodeToString(d.pub[:])+" over curr_hash "+d.hash.String())
	}
	return nil
}

// finish hashes, verifies and builds the stored form (modeDecode).
func (d *decoder) finish() error {
	d.computeHash()
	if err := d.verify(); err != nil {
		return err
	}
	canon := d.appendCanonical(d.hash)
	if err := d.checkSize(canon); err != nil {
		return err
	}
	d.fill(canon)
	return nil
}

// checkSize applies Limits.MaxSpanBytes to the stored form, which adds
// curr_hash, any server-assigned id and (Sign) the signature to what was
// sent.
func (d *decoder) checkSize(canon []byte) error {
	if len(canon) <= d.limits.MaxSpanBytes {
		return nil
	}
	return newError(CodeTooLarge, "", -1, "canonical span is "+strconv.Itoa(len(canon))+
		" bytes (with curr_hash, any server-assigned id and signature); the limit is "+strconv.Itoa(d.limits.MaxSpanBytes))
}

// appendCanonical appends the JCS object of the stored members (with
// curr_hash h) to d.buf, records where each member is in it, and returns
// it.
func (d *decoder) appendCanonical(h Hash) []byte {
	var hq [2 + 2*len(Hash{})]byte
	hq[0], hq[len(hq)-1] = '"', '"'
	hex.Encode(hq[1:len(hq)-1], h[:])

	s := d.s
	s.vals = [numFields]valRange{}
	s.segs = [len(s.segs)]valRange{}
	off := len(d.buf)
	d.buf = append(d.buf, '{')
	seg := 0
	for f := range numFields {
		if fields[f].server {
			seg++
			continue
		}
		var v []byte
		switch sl := &d.slots[f]; {
		case f == fCurrHash:
			v = hq[:]
		case sl.present:
			v = d.buf[sl.off:sl.end]
		default:
			continue
		}
		if len(d.buf) > off+1 {
			d.buf = append(d.buf, ',')
		}
		start := int32(len(d.buf) - off)
		d.buf = appendMember(d.buf, f, v)
		end := int32(len(d.buf) - off)
		s.vals[f] = valRange{end - int32(len(v)), end}
		if s.segs[seg].b == 0 {
			s.segs[seg].a = start
		}
		s.segs[seg].b = end
	}
	d.buf = append(d.buf, '}')
	return d.buf[off:]
}

// fill sets the Span's exported fields from its canonical form.
func (d *decoder) fill(canon []byte) {
	s := d.s
	s.canon = string(canon)
	s.ID = s.str(fID)
	s.Tenant = s.str(fTenant)
	s.EntityType = s.str(fEntityType)
	if s.EntityType == "" {
		s.EntityType = DefaultEntityType
	}
	s.Who = s.str(fWho)
	s.Did = s.str(fDid)
	s.This = s.str(fThis)
	s.TraceID = s.str(fTraceID)
	s.Status = s.str(fStatus)
	s.Hash = d.hash
	if d.slots[fSignature].present {
		s.Signed = true
		s.PublicKey = append([]byte(nil), d.pub[:]...)
	}
}

// str is the decoded value of string field f ("" when absent).
func (s *Span) str(f fieldID) string {
	r := s.vals[f]
	if r.b == 0 {
		return ""
	}
	v := s.canon[r.a+1 : r.b-1]
	if strings.IndexByte(v, '\\') >= 0 {
		return unescapeCanonical(v)
	}
	return v
}
