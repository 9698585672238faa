// Alerts on the workspace's logs: messages reaching a poison queue, and jobs that failed for good.
// The action group (email) exists only when an address is given; without it the alerts still fire
// and show under Monitor > Alerts.
@description('Prefix of the alert rule names.')
param namePrefix string

@description('Name of the action group that emails alertEmail.')
param actionGroupName string

@description('Region of the alert rules.')
param location string

@description('Tags for the alert rules and the action group.')
param tags object

@description('Resource id of the Log Analytics workspace the rules query.')
param workspaceId string

@description('Email address for the alerts; empty for none.')
param alertEmail string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'batchjobs'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    // The storage account's queue metrics cannot tell one queue from another, and the app's
    // sweep empties the poison queues every minute, so this alerts on arrivals: the queue write
    // logs (a PutMessage into a *-poison queue), the host's own "Moving message to queue"
    // warning and the app's job_poisoned event. Any one of them is enough.
    name: 'poison-messages'
    displayName: 'Messages reached a poison queue'
    description: 'A job message failed every attempt (or could not be decoded) and was moved to <queue>-poison. See the saved query "Messages moved to poison queues", and the queue in the Storage browser.'
    severity: 1
    query: loadTextContent('queries/poison-messages.kql')
    dimension: 'queue'
  }
  {
    name: 'job-failures'
    displayName: 'Jobs failed'
    description: 'A job ended Failed (job_failed) or a task could not start (task_failed). See the saved query "Job failures by kind, with the last error".'
    severity: 2
    query: loadTextContent('queries/job-failed-events.kql')
    dimension: 'kind'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: '${namePrefix}-${rule.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    // A new workspace has no AppTraces or StorageQueueLogs table until the first row arrives.
    skipQueryValidation: true
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          dimensions: [
            {
              name: rule.dimension
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}]
