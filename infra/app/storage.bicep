// The one storage account: host storage (AzureWebJobsStorage), the app's data (JobsStorage) and
// the deployment package. Entra ID only: shared keys are off, so no connection string exists.
// Every table, queue and container the app uses is created here, up front.
@description('Name of the storage account (3-24 lowercase letters and digits).')
param name string

@description('Region of the storage account.')
param location string

@description('Tags for the storage account.')
param tags object

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Resource id of the Log Analytics workspace that receives the queue write/delete logs (queue depth and poison alerts).')
param logAnalyticsWorkspaceId string

// The app's resource names. They must equal jobs/core/resources.py: tests/infra checks that they do.
var jobsTable = 'jobs'
var jobQueues = [
  'jobs'
  'jobs-long'
  'jobs-small'
  'jobs-control'
  'jobs-high'
  'jobs-low'
]
var poisonSuffix = '-poison'
var unreadableSuffix = '-unreadable'
var eventsQueueName = 'task-events'
var appContainers = [
  'job-payloads'
  'job-outputs'
  'job-inputs'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Deny by default needs the app on a VNet with private endpoints (Flex VNet integration); this template keeps public endpoints and relies on Entra ID only (no shared keys).
  // checkov:skip=CKV_AZURE_59: Public network access stays on because the Flex app has no VNet integration here and reaches storage over its public endpoint; every request still needs an Entra ID token.
  // checkov:skip=CKV_AZURE_206: Jobs are short-lived working data (payloads, queue messages, task rows), not a system of record: locally redundant storage is the cost choice; pick Standard_ZRS here for zone resilience.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in concat(appContainers, [deploymentContainerName]): {
  parent: blobService
  name: container
  properties: {
    publicAccess: 'None'
  }
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in jobQueues: {
  parent: queueService
  name: queue
}]

// The host creates a poison queue on first use; creating it here lets the portal, the saved
// queries and the alert see it from the start.
resource poisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in jobQueues: {
  parent: queueService
  name: '${queue}${poisonSuffix}'
}]

// Where the poison sweep moves a message it cannot read, so it stays visible without stopping
// the sweep.
resource unreadableQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in jobQueues: {
  parent: queueService
  name: '${queue}${unreadableSuffix}'
}]

// Where each task's end is announced, for apps that prefer a queue to a callback.
resource eventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: eventsQueueName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: jobsTable
}

// Queue writes (PutMessage, UpdateMessage) and deletes go to StorageQueueLogs: the per-queue depth
// query and the poison alert read them. Reads (GetMessages, the trigger's polling) are left out:
// they are most of the volume and answer no question asked here.
resource queueLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'queue-logs'
  scope: queueService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
