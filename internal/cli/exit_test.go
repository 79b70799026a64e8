package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/logline/logline/internal/client"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"cobra usage", errors.New(`unknown command "x"`), ExitUsage},
		{"classified", failErrorf("x"), ExitFailed},
		{"wrapped classified", fmt.Errorf("ctx: %w", ioErrorf("x")), ExitUnavailable},
		{"interrupted", fmt.Errorf("read: %w", context.Canceled), ExitInterrupted},
		{"conn", &client.ConnError{Op: "get", Err: errors.New("refused")}, ExitUnavailable},
		{"not found", &client.Problem{Status: 404, Code: "not_found"}, ExitFailed},
		{"bad request", &client.Problem{Status: 400, Code: "invalid_parameter"}, ExitUsage},
		{"ambiguous", &client.Problem{Status: 409, Code: "ambiguous_id"}, ExitUsage},
		{"overloaded", &client.Problem{Status: 429}, ExitUnavailable},
		{"server error", &client.Problem{Status: 500, Code: "internal"}, ExitUnavailable},
		{"other", errors.New("disk on fire"), ExitUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err
			if tt.name != "cobra usage" {
				err = classify(err)
			}
			if got := exitCodeOf(err); got != tt.want {
				t.Errorf("exit code %d, want %d (err %v)", got, tt.want, err)
			}
		})
	}
}
