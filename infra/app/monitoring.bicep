// Log Analytics workspace, the workspace-based App Insights component the app reports to (Entra ID
// ingestion only), and the saved queries an operator opens from the workspace's Logs page. In the
// workspace the host's `requests` and `traces` are the AppRequests and AppTraces tables, and a
// trace's customDimensions is its Properties column.
@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the App Insights component.')
param applicationInsightsName string

@description('Region of the workspace and the component.')
param location string

@description('Tags for the workspace and the component.')
param tags object

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

// Workspace functions: the app's log lines as columns, for the saved queries, the alerts and the
// workbook. JobEvents turns each "JobEvent <event> key=value ..." line into a row; QueueDepth and
// PoisonMoves build on it. Deployed one at a time, in this order, as each reads the one before.
var functions = [
  {
    name: 'job-events-function'
    alias: 'JobEvents'
    displayName: 'JobEvents: job events as columns'
    query: loadTextContent('queries/job-events.kql')
  }
  {
    name: 'queue-depth-function'
    alias: 'QueueDepth'
    displayName: 'QueueDepth: each queue\'s depth and oldest waiting message, sampled every minute'
    query: loadTextContent('queries/queue-depth-samples.kql')
  }
  {
    name: 'poison-moves-function'
    alias: 'PoisonMoves'
    displayName: 'PoisonMoves: messages moved to poison queues, from storage, host and app'
    query: loadTextContent('queries/poison-moves.kql')
  }
]

@batchSize(1)
resource workspaceFunctions 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for fn in functions: {
  parent: workspace
  name: fn.name
  properties: {
    category: 'Batch jobs'
    displayName: fn.displayName
    functionAlias: fn.alias
    query: fn.query
    version: 2
  }
}]

// The saved queries, one per question; their text is in queries/ to keep the KQL readable.
var savedQueries = [
  {
    name: 'jobs-throughput'
    displayName: 'Jobs completed per minute, by queue'
    query: loadTextContent('queries/jobs-throughput.kql')
  }
  {
    name: 'job-failures'
    displayName: 'Job failures by kind, with the last error'
    query: loadTextContent('queries/job-failures.kql')
  }
  {
    name: 'failed-invocations'
    displayName: 'Failed function invocations, with exceptions'
    query: loadTextContent('queries/failed-invocations.kql')
  }
  {
    name: 'queue-depth'
    displayName: 'Queue depth and oldest waiting message, per queue'
    query: loadTextContent('queries/queue-depth.kql')
  }
  {
    name: 'poison-messages'
    displayName: 'Messages moved to poison queues'
    query: loadTextContent('queries/poison-messages.kql')
  }
]

resource queries 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for query in savedQueries: {
  parent: workspace
  name: query.name
  properties: {
    category: 'Batch jobs'
    displayName: query.displayName
    query: query.query
    version: 2
  }
  dependsOn: [
    workspaceFunctions
  ]
}]

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output applicationInsightsName string = applicationInsights.name
output applicationInsightsId string = applicationInsights.id
