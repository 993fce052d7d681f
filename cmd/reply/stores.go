package main

import (
	"fmt"
	"log/slog"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/oss"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

// stores are the reply function's state in the bucket, all read and
// written through one view of it.
type stores struct {
	history   *bucket.History
	receipts  *bucket.Receipts
	settings  *bucket.Settings
	questions *bucket.Questions
	stops     *bucket.Stops
	documents *bucket.Documents
	// decisions, votes, cards and registrations are the cards' buttons'
	// (and \yes and \no's).
	decisions     *bucket.Decisions
	votes         *bucket.Votes
	cards         *bucket.Cards
	registrations *bucket.Registrations
	// tally counts the month's OpenAPI calls; nil without MONTHLY_CALLS.
	tally *bucket.Tally
}

// openStores opens the stores through api, OSS's API, or, when that is
// nil (no OSS_BUCKET), through the folder mountPoint, which must be there.
// instance names this process's tally objects.
func openStores(api *oss.Objects, mountPoint string, tallied bool, instance string, logger *slog.Logger) (stores, error) {
	var objects bucket.Objects
	if api != nil {
		objects = api
	} else {
		mount, err := ossmount.New(mountPoint)
		if err != nil {
			return stores{}, fmt.Errorf("configuration: OSS_MOUNT_POINT: %w", err)
		}
		objects = mount
	}
	history, err := bucket.NewHistory(objects, bucket.Config{Logger: logger})
	if err != nil {
		return stores{}, fmt.Errorf("configuration: %w", err)
	}
	s := stores{
		history:       history,
		receipts:      bucket.NewReceipts(objects, bucket.Config{Logger: logger}),
		settings:      bucket.NewSettings(objects, bucket.Config{}),
		questions:     bucket.NewQuestions(objects),
		stops:         bucket.NewStops(objects),
		documents:     bucket.NewDocuments(objects),
		decisions:     bucket.NewDecisions(objects),
		votes:         bucket.NewVotes(objects, bucket.Config{Logger: logger}),
		cards:         bucket.NewCards(objects, bucket.Config{Logger: logger}),
		registrations: bucket.NewRegistrations(objects),
	}
	if tallied {
		if s.tally, err = bucket.NewTally(objects, bucket.TallyConfig{Instance: instance}); err != nil {
			return stores{}, fmt.Errorf("configuration: %w", err)
		}
	}
	return s, nil
}
