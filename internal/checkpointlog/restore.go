package checkpointlog

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/logline/logline/internal/durable"
)

// Archived is one checkpoint for WriteAll.
type Archived struct {
	Day  time.Time // names the day file (its UTC date)
	Size uint64
	Note []byte // the signed checkpoint note
}

// WriteAll rebuilds an archive from checkpoints kept elsewhere (a restore
// from a backup): it writes them, in the order given, as the records of
// the files of their days in dir, each file replaced atomically and
// fsynced. dir is created if needed and must hold no archive yet.
func WriteAll(dir string, cps []Archived) error {
	if err := durable.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	if fs, err := files(dir); err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	} else if len(fs) > 0 {
		return fmt.Errorf("checkpoint archive: %s already holds %s", dir, filepath.Base(fs[0]))
	}
	var days []string
	lines := map[string][]byte{}
	for _, c := range cps {
		line, err := json.Marshal(record{Size: c.Size, Checkpoint: string(c.Note)})
		if err != nil {
			return fmt.Errorf("checkpoint archive: %w", err)
		}
		day := c.Day.UTC().Format(time.DateOnly)
		if _, ok := lines[day]; !ok {
			days = append(days, day)
		}
		lines[day] = append(append(lines[day], line...), '\n')
	}
	for _, day := range days {
		if err := durable.WriteFile(filepath.Join(dir, day+".ndjson"), lines[day], 0o644); err != nil {
			return fmt.Errorf("checkpoint archive: %w", err)
		}
	}
	return nil
}
