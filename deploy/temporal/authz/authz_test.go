package authz

import (
	"context"
	"crypto/x509/pkix"
	"testing"

	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	tokenspb "go.temporal.io/server/api/token/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/tasktoken"
)

var admins = []string{"pitwall-server", "pitwall-worker", "operator"}

func decide(t *testing.T, cn string, api string, req any) authorization.Decision {
	t.Helper()
	var subject *pkix.Name
	if cn != "" {
		subject = &pkix.Name{CommonName: cn}
	}
	claims, err := ClaimMapper{Admins: admins}.GetClaims(&authorization.AuthInfo{TLSSubject: subject})
	if err != nil {
		t.Fatal(err)
	}
	ns := ""
	if r, ok := req.(interface{ GetNamespace() string }); ok {
		ns = r.GetNamespace()
	}
	res, err := Authorizer{Namespace: "default"}.Authorize(context.Background(), claims,
		&authorization.CallTarget{APIName: workflowService + api, Namespace: ns, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return res.Decision
}

func poll(queue string) *workflowservice.PollActivityTaskQueueRequest {
	return &workflowservice.PollActivityTaskQueueRequest{Namespace: "default",
		TaskQueue: &taskqueuepb.TaskQueue{Name: queue}}
}

func token(t *testing.T, runID string) []byte {
	t.Helper()
	b, err := tasktoken.NewSerializer().Serialize(&tokenspb.Task{WorkflowId: "perftest-7", RunId: runID,
		ScheduledEventId: 5, ActivityId: "5"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	allowed = authorization.DecisionAllow
	denied  = authorization.DecisionDeny
)

func TestAgentWorksOnlyOnItsOwnQueue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, cn, api string
		req           any
		want          authorization.Decision
	}{
		{"own queue", "agent:agent-1", "PollActivityTaskQueue", poll("agent.agent-1"), allowed},
		{"another agent's queue", "agent:agent-1", "PollActivityTaskQueue", poll("agent.agent-2"), denied},
		{"the central queue", "agent:agent-1", "PollActivityTaskQueue", poll("pitwall"), denied},
		{"a queue with its name as prefix", "agent:agent-1", "PollActivityTaskQueue", poll("agent.agent-10"), denied},
		{"own queue in another namespace", "agent:agent-1", "PollActivityTaskQueue",
			&workflowservice.PollActivityTaskQueueRequest{Namespace: "other", TaskQueue: &taskqueuepb.TaskQueue{Name: "agent.agent-1"}}, denied},
		{"workflow tasks", "agent:agent-1", "PollWorkflowTaskQueue",
			&workflowservice.PollWorkflowTaskQueueRequest{Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: "agent.agent-1"}}, denied},
		{"a history (other tests' scripts)", "agent:agent-1", "GetWorkflowExecutionHistory",
			&workflowservice.GetWorkflowExecutionHistoryRequest{Namespace: "default"}, denied},
		{"start a workflow", "agent:agent-1", "StartWorkflowExecution",
			&workflowservice.StartWorkflowExecutionRequest{Namespace: "default"}, denied},
		{"signal", "agent:agent-1", "SignalWorkflowExecution",
			&workflowservice.SignalWorkflowExecutionRequest{Namespace: "default"}, denied},
		{"list workflows", "agent:agent-1", "ListWorkflowExecutions",
			&workflowservice.ListWorkflowExecutionsRequest{Namespace: "default"}, denied},
		{"complete by ID", "agent:agent-1", "RespondActivityTaskCompletedById",
			&workflowservice.RespondActivityTaskCompletedByIdRequest{Namespace: "default"}, denied},
		{"heartbeat with a token", "agent:agent-1", "RecordActivityTaskHeartbeat",
			&workflowservice.RecordActivityTaskHeartbeatRequest{Namespace: "default", TaskToken: token(t, "run-uuid")}, allowed},
		{"complete with a token", "agent:agent-1", "RespondActivityTaskCompleted",
			&workflowservice.RespondActivityTaskCompletedRequest{Namespace: "default", TaskToken: token(t, "run-uuid")}, allowed},
		{"complete with a token naming no run", "agent:agent-1", "RespondActivityTaskCompleted",
			&workflowservice.RespondActivityTaskCompletedRequest{Namespace: "default", TaskToken: token(t, "")}, denied},
		{"fail with junk for a token", "agent:agent-1", "RespondActivityTaskFailed",
			&workflowservice.RespondActivityTaskFailedRequest{Namespace: "default", TaskToken: []byte("junk")}, denied},
		{"system info", "agent:agent-1", "GetSystemInfo", &workflowservice.GetSystemInfoRequest{}, allowed},
		{"describe its namespace", "agent:agent-1", "DescribeNamespace",
			&workflowservice.DescribeNamespaceRequest{Namespace: "default"}, allowed},
		{"register a namespace", "agent:agent-1", "RegisterNamespace",
			&workflowservice.RegisterNamespaceRequest{Namespace: "default"}, denied},
		{"shut down its worker", "agent:agent-1", "ShutdownWorker",
			&workflowservice.ShutdownWorkerRequest{Namespace: "default", TaskQueue: "agent.agent-1"}, allowed},
		{"shut down a sticky queue", "agent:agent-1", "ShutdownWorker",
			&workflowservice.ShutdownWorkerRequest{Namespace: "default", StickyTaskQueue: "host:uuid"}, denied},
		{"an empty agent name", "agent:", "PollActivityTaskQueue", poll("agent."), denied},
		{"server", "pitwall-server", "StartWorkflowExecution",
			&workflowservice.StartWorkflowExecutionRequest{Namespace: "default"}, allowed},
		{"central worker", "pitwall-worker", "PollWorkflowTaskQueue",
			&workflowservice.PollWorkflowTaskQueueRequest{Namespace: "default"}, allowed},
		{"operator", "operator", "GetWorkflowExecutionHistory",
			&workflowservice.GetWorkflowExecutionHistoryRequest{Namespace: "default"}, allowed},
		{"an unknown subject", "someone", "DescribeNamespace",
			&workflowservice.DescribeNamespaceRequest{Namespace: "default"}, denied},
		{"no certificate", "", "DescribeNamespace", &workflowservice.DescribeNamespaceRequest{Namespace: "default"}, denied},
		// Temporal counts it as a health check, as harmless as the gRPC one.
		{"system info for an unknown subject", "someone", "GetSystemInfo", &workflowservice.GetSystemInfoRequest{}, allowed},
	}
	for _, c := range cases {
		if got := decide(t, c.cn, c.api, c.req); got != c.want {
			t.Errorf("%s: %s %s: got decision %d, want %d", c.name, c.cn, c.api, got, c.want)
		}
	}
}

func TestHealthCheckNeedsNoRole(t *testing.T) {
	t.Parallel()
	res, err := Authorizer{Namespace: "default"}.Authorize(context.Background(), &authorization.Claims{},
		&authorization.CallTarget{APIName: "/grpc.health.v1.Health/Check"})
	if err != nil || res.Decision != allowed {
		t.Fatalf("health check: %v %v", res, err)
	}
}
