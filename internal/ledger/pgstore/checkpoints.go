package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logline/logline/internal/ledger"
)

// CheckpointRow is one row of ledger.checkpoints: a committed tree size,
// its root and, once its committing node recorded it, the note that node
// signed (nil before).
type CheckpointRow struct {
	ledger.Checkpoint
	Created time.Time // when the row was committed
}

// Checkpoints returns the rows of ledger.checkpoints up to this node's
// Size(), by size (what migrate-store copies). With signedOnly, only the
// rows that carry a note.
func (s *Store) Checkpoints(ctx context.Context, signedOnly bool) ([]CheckpointRow, error) {
	q := "SELECT size, root, note, created_at FROM ledger.checkpoints WHERE size <= $1 ORDER BY size"
	if signedOnly {
		q = "SELECT size, root, note, created_at FROM ledger.checkpoints WHERE size <= $1 AND note IS NOT NULL ORDER BY size"
	}
	var out []CheckpointRow
	err := s.inTx(ctx, systemScope, true, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, int64(s.Size()))
		if err != nil {
			return err
		}
		var (
			size int64
			root []byte
			note *string
			at   time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&size, &root, &note, &at}, func() error {
			if len(root) != 32 {
				return fmt.Errorf("%w: the checkpoint of size %d has a %d-byte root", ledger.ErrCorrupt, size, len(root))
			}
			r := CheckpointRow{Checkpoint: ledger.Checkpoint{Size: uint64(size), Root: [32]byte(root)}, Created: at}
			if note != nil {
				r.Note = []byte(*note)
			}
			out = append(out, r)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger.checkpoints: %w", err)
	}
	return out, nil
}
