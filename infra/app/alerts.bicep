// Alerts on the workspace's logs: messages reaching a poison queue, jobs that failed for good, and
// work waiting too long in a queue. The action group (email) exists only when an address is given;
// without it the alerts still fire and show under Monitor > Alerts.
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

@description('Minutes a queue\'s oldest message may wait before the "work waiting too long" alert fires. Jobs run in seconds and a run may take up to the 10-minute functionTimeout, so 15 means work is not being picked up.')
@minValue(2)
param maxWaitMinutes int = 15

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
    // sweep empties the poison queues every minute, so this alerts on arrivals (PoisonMoves):
    // the queue write logs (a PutMessage into a *-poison queue), the host's own "Moving message
    // to queue" warning and the app's job_poisoned event. Any one of them is enough.
    name: 'poison-messages'
    displayName: 'Messages reached a poison queue'
    description: 'A job message failed every attempt (or could not be decoded) and was moved to <queue>-poison. See the saved query "Messages moved to poison queues", and the queue in the Storage browser.'
    severity: 1
    query: loadTextContent('queries/poison-messages-alert.kql')
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

// Work waiting too long: the oldest visible message of some queue (poison queues included) has
// waited longer than maxWaitMinutes in a sample (jobs/reads/queue_depth.py samples every queue every minute).
// On a job queue it means nothing is taking work (the app is stopped, failing to start, or every
// instance is busy); on a poison queue, that the sweep is not running.
resource queueWaitRule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-queue-wait'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Work waiting too long'
    description: 'A queue\'s oldest message has waited over ${maxWaitMinutes} minutes. See the workbook "Batch jobs", section Queue depth over time, and the saved query "Queue depth and oldest waiting message, per queue".'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    // A new workspace has no AppTraces table until the first row arrives.
    skipQueryValidation: true
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/queue-wait-alert.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'oldest_age_s'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: maxWaitMinutes * 60
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
}
