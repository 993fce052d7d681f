package reply

import (
	"context"
	"sync"
)

// record keeps what was decided for m before it goes out: the turn in the
// asker's history, so that a user who reads the answer and asks again finds
// it there, and the answer in m's receipt, so that a retry after a failed
// delivery does not ask the model again. They are two files, written at
// once.
//
// A failure is logged, not returned: posting the answer matters more. A
// lost turn costs the conversation its memory of one exchange; a lost
// receipt makes a retry ask the model again, which is the lesser harm.
func (s *Service) record(ctx context.Context, j *job, r response) {
	log, m := j.log, j.m
	var saving sync.WaitGroup
	if r.turn != nil {
		saving.Add(1)
		go func() {
			defer saving.Done()
			if err := s.prompter.history.Save(ctx, s.prompter.historyOwner(m), *r.turn); err != nil {
				log.ErrorContext(ctx, "could not save the turn", "err", err)
				return // the files stay for the question asked again
			}
			s.prompter.take(ctx, log, m, r.taken)
		}()
	}
	if r.turn != nil || r.stopped {
		// A stopped answer keeps no turn, but the model worked for it.
		saving.Add(1)
		go func() {
			defer saving.Done()
			s.control.countAnswer(ctx, log, j, r.usage)
		}()
	}
	if err := s.writer.receipts.SaveAnswer(ctx, m, r.text); err != nil {
		log.ErrorContext(ctx, "could not keep the answer's receipt", "err", err)
	}
	saving.Wait()
}
