-- one row per Microsoft Advertising account; TimeZone arrives as Microsoft's enum name
-- (PacificTimeUSCanadaTijuana) and is mapped to its IANA zone. Report days are UTC whatever
-- the account's zone, so the rows' day basis is 'utc'.
select
    cast('microsoft_ads' as varchar) as platform,
    cast("Id" as varchar) as account_id,
    cast("Name" as varchar) as account_name,
    cast(upper("CurrencyCode") as varchar) as currency,
    cast(case "TimeZone"
        when 'PacificTimeUSCanadaTijuana' then 'America/Los_Angeles'
        when 'MountainTimeUSCanada' then 'America/Denver'
        when 'Arizona' then 'America/Phoenix'
        when 'CentralTimeUSCanada' then 'America/Chicago'
        when 'EasternTimeUSCanada' then 'America/New_York'
        when 'IndianaEast' then 'America/Indiana/Indianapolis'
        when 'AtlanticTimeCanada' then 'America/Halifax'
        when 'Alaska' then 'America/Anchorage'
        when 'Hawaii' then 'Pacific/Honolulu'
        when 'GreenwichMeanTimeDublinEdinburghLisbonLondon' then 'Europe/London'
        when 'AmsterdamBerlinBernRomeStockholmVienna' then 'Europe/Berlin'
        when 'BrusselsCopenhagenMadridParis' then 'Europe/Paris'
        when 'BelgradeBratislavaBudapestLjubljanaPrague' then 'Europe/Prague'
        when 'SarajevoSkopjeWarsawZagreb' then 'Europe/Warsaw'
        when 'AthensIslandanbulMinsk' then 'Europe/Athens'
        when 'HelsinkiKyivRigaSofiaTallinnVilnius' then 'Europe/Helsinki'
        when 'MoscowStPetersburgVolgograd' then 'Europe/Moscow'
        when 'AbuDhabiMuscat' then 'Asia/Dubai'
        when 'ChennaiKolkataMumbaiNewDelhi' then 'Asia/Kolkata'
        when 'BeijingChongqingHongKongUrumqi' then 'Asia/Shanghai'
        when 'KualaLumpurSingapore' then 'Asia/Singapore'
        when 'OsakaSapporoTokyo' then 'Asia/Tokyo'
        when 'Seoul' then 'Asia/Seoul'
        when 'CanberraMelbourneSydney' then 'Australia/Sydney'
        when 'Brisbane' then 'Australia/Brisbane'
        when 'Adelaide' then 'Australia/Adelaide'
        when 'Perth' then 'Australia/Perth'
        when 'AucklandWellington' then 'Pacific/Auckland'
        when 'Brasilia' then 'America/Sao_Paulo'
        when 'BuenosAiresGeorgetown' then 'America/Argentina/Buenos_Aires'
        when 'MexicoCity' then 'America/Mexico_City'
        when 'GuadalajaraMexicoCityMonterrey' then 'America/Mexico_City'
        when 'Bogota' then 'America/Bogota'
        when 'Johannesburg' then 'Africa/Johannesburg'
        when 'Jerusalem' then 'Asia/Jerusalem'
    end as varchar) as timezone,
    cast('utc' as varchar) as date_day_basis,
    cast('UTC' as varchar) as date_day_timezone
from {{ source('microsoft_ads', 'microsoft_ads__accounts') }}
