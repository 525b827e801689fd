// Package authz decides what each client of Pitwall's Temporal server may
// do, from the subject of the client certificate it presented (mutual TLS:
// only certificates signed by the deployment's CA get this far).
//
// Pitwall's server and central worker, the Temporal UI and operators get
// every API. An agent's certificate, whose common name is "agent:<host>",
// gets only what the agent role calls: poll the activity task queue
// agent.<host> (workflows/contract.AgentQueue), heartbeat and answer the
// activity tasks it received, and the few calls the SDK makes when a worker
// starts and stops. It cannot poll another host's queue (and so receive the
// scripts other teams' tests send there), read workflow histories, start,
// signal or cancel workflows, or change the namespace. Any other subject
// gets nothing.
package authz

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/tasktoken"
)

// AgentPrefix starts the common name of an agent's certificate; the rest
// is the agent's host name.
const AgentPrefix = "agent:"

// agentQueuePrefix starts an agent's task queue name: it must stay what
// workflows/contract.AgentQueue makes (the deploy module does not import
// Pitwall's, so that its go.mod stays free of the server).
const agentQueuePrefix = "agent."

// agent is what the claim mapper learnt about an agent's certificate.
type agent struct{ host string }

// ClaimMapper turns a client certificate into claims: an administrator
// (system admin) for the common names in Admins, an agent for
// "agent:<host>", and nothing for anyone else.
type ClaimMapper struct {
	Admins []string
}

var _ authorization.ClaimMapper = ClaimMapper{}

// GetClaims maps the certificate's subject; a call with no certificate
// gets no roles (the frontend refuses such connections anyway).
func (m ClaimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	return Claims(info.TLSSubject, m.Admins), nil
}

// AuthInfoRequired is true: a call without a certificate is never
// mapped to a role.
func (m ClaimMapper) AuthInfoRequired() bool { return true }

// Claims are the claims for a certificate subject.
func Claims(subject *pkix.Name, admins []string) *authorization.Claims {
	if subject == nil {
		return &authorization.Claims{}
	}
	cn := subject.CommonName
	c := &authorization.Claims{Subject: cn}
	switch host, isAgent := strings.CutPrefix(cn, AgentPrefix); {
	case slices.Contains(admins, cn):
		c.System = authorization.RoleAdmin
	case isAgent && validHost(host):
		c.Extensions = agent{host: host}
	}
	return c
}

// validHost is a host name an agent may have: no empty name, nothing that
// could make its queue name mean another queue.
func validHost(h string) bool {
	return h != "" && !strings.ContainsAny(h, " /\t\n*")
}

// Authorizer allows administrators everything and agents only their own
// work, in Namespace.
type Authorizer struct {
	Namespace string
}

var _ authorization.Authorizer = Authorizer{}

var (
	allow = authorization.Result{Decision: authorization.DecisionAllow}
)

func deny(format string, args ...any) authorization.Result {
	return authorization.Result{Decision: authorization.DecisionDeny, Reason: fmt.Sprintf(format, args...)}
}

const workflowService = "/temporal.api.workflowservice.v1.WorkflowService/"

// Authorize decides one call.
func (a Authorizer) Authorize(_ context.Context, c *authorization.Claims, t *authorization.CallTarget) (authorization.Result, error) {
	// The gRPC health check and GetSystemInfo, as Temporal's default
	// authorizer has it: nothing in them is anyone's secret.
	if authorization.IsHealthCheckAPI(t.APIName) {
		return allow, nil
	}
	if c == nil {
		return deny("no client certificate"), nil
	}
	if c.System >= authorization.RoleAdmin {
		return allow, nil
	}
	ag, ok := c.Extensions.(agent)
	if !ok {
		return deny("%q may not call Temporal", c.Subject), nil
	}
	return a.agentCall(ag, c.Subject, t), nil
}

// agentCall allows what an agent worker calls, for its own queue only.
func (a Authorizer) agentCall(ag agent, subject string, t *authorization.CallTarget) authorization.Result {
	method, ok := strings.CutPrefix(t.APIName, workflowService)
	if !ok {
		return deny("%s may not call %s", subject, t.APIName)
	}
	if t.Namespace != a.Namespace {
		return deny("%s may work only in namespace %s", subject, a.Namespace)
	}
	queue := agentQueuePrefix + ag.host
	switch r := t.Request.(type) {
	case *workflowservice.DescribeNamespaceRequest: // a worker checks its namespace on start
		return allow
	case *workflowservice.PollActivityTaskQueueRequest:
		if r.GetTaskQueue().GetName() != queue {
			return deny("%s may poll only task queue %s, not %q", subject, queue, r.GetTaskQueue().GetName())
		}
		return allow
	case *workflowservice.RecordActivityTaskHeartbeatRequest:
		return taskToken(subject, r.GetTaskToken())
	case *workflowservice.RespondActivityTaskCompletedRequest:
		return taskToken(subject, r.GetTaskToken())
	case *workflowservice.RespondActivityTaskFailedRequest:
		return taskToken(subject, r.GetTaskToken())
	case *workflowservice.RespondActivityTaskCanceledRequest:
		return taskToken(subject, r.GetTaskToken())
	case *workflowservice.ShutdownWorkerRequest: // sent when the worker stops
		if r.GetStickyTaskQueue() != "" || (r.GetTaskQueue() != "" && r.GetTaskQueue() != queue) {
			return deny("%s may shut down only its own worker on %s", subject, queue)
		}
		return allow
	case *workflowservice.RecordWorkerHeartbeatRequest: // the SDK's worker heartbeat
		return allow
	}
	return deny("%s may not call %s", subject, method)
}

// taskToken allows answering an activity task by its token only when the
// token names a workflow run: the server would otherwise take the
// workflow's current run, and a test's workflow ID (perftest-<id>) is easy
// to guess, while the run ID of a test that never ran on this agent is not.
func taskToken(subject string, raw []byte) authorization.Result {
	tok, err := tasktoken.NewSerializer().Deserialize(raw)
	if err != nil {
		return deny("%s sent a task token that does not parse", subject)
	}
	if tok.GetWorkflowId() == "" || tok.GetRunId() == "" {
		return deny("%s sent a task token without a workflow run", subject)
	}
	return allow
}
