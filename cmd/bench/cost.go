package main

import (
	"math"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
)

// FC 3.0 bills everything in CU (compute units), with these weights
// (docs/protocols.md §15).
const (
	cuPerVCPUSecond = 1.0
	cuPerGBSecond   = 0.15
	cuPerInvocation = 75.0 / 10000
)

// Prices of a CU, which docs/protocols.md §15 does not give: Alibaba Cloud's list
// prices of the first monthly tier (up to 200 million CU on the China site,
// 100 million on the international one) as published from 2024-08-27.
// They are assumptions, marked as such in the report.
const (
	cnyPerCU = 0.00011
	usdPerCU = 0.000020
)

// modelTime is how long the model takes to answer in the cost model.
const modelTime = 5 * time.Second

// perThousand is the number of messages the cost is given for.
const perThousand = 1000

// functionCost is what one function costs for 1,000 messages.
type functionCost struct {
	Name string
	Spec functionSpec
	// Duration is how long one request holds an instance: FC bills an
	// instance for the time it has at least one request in flight.
	Duration time.Duration
	// InstanceSeconds is the billed instance time per message, at most
	// Duration (less when requests share an instance).
	InstanceSeconds float64
}

// VCPUSeconds, GBSeconds and Invocations are the billed quantities for
// 1,000 messages.
func (c functionCost) VCPUSeconds() float64 { return perThousand * c.InstanceSeconds * c.Spec.CPU }
func (c functionCost) GBSeconds() float64   { return perThousand * c.InstanceSeconds * c.Spec.MemoryGB() }
func (c functionCost) Invocations() float64 { return perThousand }

// CU is the function's CU for 1,000 messages.
func (c functionCost) CU() float64 {
	return c.VCPUSeconds()*cuPerVCPUSecond + c.GBSeconds()*cuPerGBSecond + c.Invocations()*cuPerInvocation
}

// costModel holds the inputs of the cost section, taken from the measured
// figures and s.yaml.
type costModel struct {
	Conversation, Reply functionCost
}

// billedDuration is the time a request holds its instance on FC: the time
// measured here, or, when longer, the CPU time it used here stretched to
// the function's share of a core (0.05 vCPU runs CPU-bound work 20 times
// slower than a whole core).
func billedDuration(measured, cpu time.Duration, vcpu float64) time.Duration {
	return max(measured, time.Duration(float64(cpu)/vcpu))
}

// newCostModel prices a message that each function serves alone on its
// instance: no sharing, the most a message can cost.
func newCostModel(res results) costModel {
	conv, reply := devstack.ConversationFunction, devstack.ReplyFunction
	c := costModel{
		Conversation: functionCost{Name: conv, Spec: res.SYAML[conv],
			Duration: billedDuration(percentile(res.Load10.Latencies, 0.5), res.Load100.CPUPerCallback(), res.SYAML[conv].CPU)},
		Reply: functionCost{Name: reply, Spec: res.SYAML[reply],
			Duration: modelTime + billedDuration(percentile(res.Reply.RoundTrip, 0.5), res.Reply.CPU, res.SYAML[reply].CPU)},
	}
	c.Conversation.InstanceSeconds = c.Conversation.Duration.Seconds()
	c.Reply.InstanceSeconds = c.Reply.Duration.Seconds()
	return c
}

// Total is the CU of 1,000 messages.
func (m costModel) Total() float64 { return m.Conversation.CU() + m.Reply.CU() }

// shared returns the cost when messages arrive at rate (per second) and
// each function's instances take up to concurrency requests at once.
func (m costModel) shared(rate float64, convConcurrency, replyConcurrency int) costModel {
	out := m
	out.Conversation.InstanceSeconds = instanceSecondsPerRequest(rate, m.Conversation.Duration, convConcurrency)
	out.Reply.InstanceSeconds = instanceSecondsPerRequest(rate, m.Reply.Duration, replyConcurrency)
	return out
}

// instanceSecondsPerRequest is the billed instance time per request when
// requests arrive at random (a Poisson process) at rate per second, each
// holds an instance for d, and an instance takes up to concurrency at
// once. The requests in flight then number N ~ Poisson(rate*d) (an M/G/inf
// queue); if FC packs them into as few instances as it can, ceil(N/c)
// instances are active, and the active instance time per request is
// E[ceil(N/c)] / rate. With concurrency 1 that is d: no sharing.
func instanceSecondsPerRequest(rate float64, d time.Duration, concurrency int) float64 {
	if rate <= 0 || concurrency <= 1 {
		return d.Seconds()
	}
	mean := rate * d.Seconds()
	// Sum the Poisson probabilities far past the mean.
	limit := int(mean + 20*math.Sqrt(mean) + 50)
	p := math.Exp(-mean) // P(N = 0)
	var instances float64
	for k := 1; k <= limit; k++ {
		p *= mean / float64(k)
		instances += p * math.Ceil(float64(k)/float64(concurrency))
	}
	return instances / rate
}

// arrivalPattern is 1,000 messages spread over a window.
type arrivalPattern struct {
	Name   string
	Window time.Duration
}

func (a arrivalPattern) Rate() float64 { return perThousand / a.Window.Seconds() }

func arrivalPatterns() []arrivalPattern {
	return []arrivalPattern{
		{"over a day (a quiet team)", 24 * time.Hour},
		{"over an hour (a busy group)", time.Hour},
		{"over 10 minutes (a burst)", 10 * time.Minute},
	}
}
