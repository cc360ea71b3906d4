-- one row per company (the buying organisation) across CRMs: HubSpot companies that are not
-- archived and Salesforce Accounts that are not deleted. A customer is a HubSpot company in
-- lifecycle stage customer, or an Account whose Type is one of Salesforce's Customer values
-- (Customer - Direct / Customer - Channel). company_key = crm:company_id, the key
-- core.dim_contact and core.fct_deal name their company by.
with hubspot as (
    select
        'hubspot' as crm,
        company_id,
        company_name,
        domain,
        created_at,
        coalesce(lifecycle_stage = 'customer', false) as is_customer
    from {{ ref('stg_hubspot__companies') }}
    where not is_archived
),
salesforce as (
    select
        'salesforce' as crm,
        account_id as company_id,
        account_name as company_name,
        -- Account.Website is not read: no domain
        cast(null as varchar) as domain,
        created_at,
        coalesce(account_type like 'Customer - %', false) as is_customer
    from {{ ref('stg_salesforce__accounts') }}
    where not coalesce(is_deleted, false)
)
select crm || ':' || company_id as company_key, * from hubspot
union all
select crm || ':' || company_id as company_key, * from salesforce
