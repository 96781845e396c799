package actorsys

import "github.com/asynkron/protoactor-go/actor"

// stopOnPanic stops a failed child. It holds no state of its own (protoactor
// keeps restart statistics per child), so every actor shares it.
var stopOnPanic = actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })

// StopOnPanic is the props option of every runtime actor: the actor stops a
// child that panics instead of restarting it (protoactor's default). The
// runtime's actors hold state a restart would lose (a socket, calls in
// flight), so a panicking child ends, and its parent learns of it through
// Terminated and the child's own Stopping handling.
func StopOnPanic() actor.PropsOption { return actor.WithSupervisor(stopOnPanic) }
