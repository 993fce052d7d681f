// Package deploy holds what deploys the robot to Function Compute 3.0 with
// Serverless Devs: the RAM policies and the variables that ../s.yaml reads.
// Its tests hold s.yaml against the fc3 component's JSON Schema and against
// what the two functions expect of their configuration.
package deploy
