// The service's workbook: throughput, effort, failures, poison moves and sweeps, host errors and
// queue depth on one page. Its definition is workbooks/batch-jobs.workbook.json (edit it there, or
// in the portal and paste the Advanced Editor's Gallery Template back); every query in it reads
// the Log Analytics workspace, whose id replaces __WORKSPACE_ID__ here.
//
// A workbook shows in the Workbooks page of the one resource its sourceId names, so the same
// definition is deployed once for Application Insights and once for the function app. The
// hidden-link tags relate each copy to both resources in the portal.
@description('Region of the workbooks.')
param location string

@description('Tags for the workbooks.')
param tags object

@description('Resource id of the Log Analytics workspace every query reads.')
param workspaceId string

@description('Resource id of the App Insights component: its Workbooks page lists the workbook.')
param applicationInsightsId string

@description('Resource id of the function app: its Workbooks page lists the workbook.')
param functionAppId string

var displayName = 'Batch jobs'
var serializedData = replace(loadTextContent('workbooks/batch-jobs.workbook.json'), '__WORKSPACE_ID__', workspaceId)
var sources = [
  applicationInsightsId
  functionAppId
]

resource workbooks 'Microsoft.Insights/workbooks@2023-06-01' = [for source in sources: {
  // A workbook's name must be a GUID; this one is stable per resource group and source.
  name: guid(resourceGroup().id, 'batch-jobs-workbook', source)
  location: location
  tags: union(tags, {
    'hidden-link:${applicationInsightsId}': 'Resource'
    'hidden-link:${functionAppId}': 'Resource'
  })
  kind: 'shared'
  properties: {
    displayName: displayName
    description: 'Jobs completed and failed, attempts and time to finish, failing tasks, poison moves and sweeps, host errors and timeouts, queue depth.'
    category: 'workbook'
    serializedData: serializedData
    sourceId: source
    version: 'Notebook/1.0'
  }
}]
